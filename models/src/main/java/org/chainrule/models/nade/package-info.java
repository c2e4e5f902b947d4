/**
 * NADE-family models (Larochelle &amp; Murray 2011; RNADE, Uria et al. 2013; order-agnostic NADE, Uria et al. 2014):
 * autoregressive densities whose conditionals share one hidden layer through a running sum, so the exact likelihood
 * of a D-dimensional event costs O(D H).
 */
package org.chainrule.models.nade;
