/**
 * Order-agnostic deep NADE (Uria, Murray and Larochelle 2014) and its iterative variant NADE-k (Raiko, Li, Cho and
 * Bengio 2014): one network, reading observed values and their mask, gives p(x_d | x_O) for any observed set O.
 *
 * <p>Unlike MADE, no connectivity is masked: the conditional structure lives in the input mask, so training draws a
 * random observed subset per row, and the exact likelihood of one ordering takes D network evaluations per row.
 */
package org.chainrule.models.deepnade;
