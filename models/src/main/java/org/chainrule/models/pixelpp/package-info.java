/**
 * PixelCNN++ (Salimans, Karpathy, Chen and Kingma 2017): an autoregressive image model whose pixels, in raster order,
 * follow a discretized logistic mixture ({@link org.chainrule.models.pixelpp.DiscretizedLogisticMixture}) with
 * parameters from causal, shifted convolutions ({@link org.chainrule.models.pixelpp.PixelCnnPpLayer}).
 */
package org.chainrule.models.pixelpp;
