/**
 * Autoregressive density models: p(x) = prod_d p(x_d | x_{&lt;d}) under an ordering.
 *
 * <p>Orderings and masks are plain values ({@link org.chainrule.models.autoregressive.MadeMasks}), so ensembles
 * over orderings and connectivity tests can inspect them.
 */
package org.chainrule.models.autoregressive;
