/**
 * Autoregressive density models: p(x) = prod_d p(x_d | x_{&lt;d}) under an ordering.
 *
 * <p>Orderings and masks are plain values ({@link org.chainrule.models.autoregressive.MadeMasks}), so ensembles
 * over orderings and connectivity tests can inspect them. A MADE's conditionals come from an
 * {@link org.chainrule.models.conditionals.OutputFamily} (Bernoulli, categorical, Gaussian mixture), optionally given a
 * context vector.
 */
package org.chainrule.models.autoregressive;
