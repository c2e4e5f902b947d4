/**
 * Sequence models over text: p(x) = prod_t p(x_t | x_{&lt;t}) with a recurrent network, read left to right.
 *
 * <p>Unlike the masked autoregressive models, causality here comes from the recurrence itself: the input at step t
 * is the previous character (or a start token), so the state that predicts x_t has seen only x_{&lt;t}.
 */
package org.chainrule.models.sequence;
