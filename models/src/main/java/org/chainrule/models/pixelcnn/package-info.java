/**
 * PixelCNN-family image models (van den Oord et al. 2016, "Pixel Recurrent Neural Networks"; van den Oord et al.
 * 2016, "Conditional Image Generation with PixelCNN Decoders"): autoregressive densities over pixels in raster order
 * and colour channels in R, G, B order, whose conditionals all come from one convolutional network made causal by
 * masked kernels ({@link org.chainrule.models.pixelcnn.MaskedConvolution}). The likelihood is exact in one network
 * pass; sampling takes one pass per sub-pixel.
 */
package org.chainrule.models.pixelcnn;
