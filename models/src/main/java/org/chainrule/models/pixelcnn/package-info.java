/**
 * PixelCNN-family image models (van den Oord et al. 2016, "Pixel Recurrent Neural Networks"; van den Oord et al.
 * 2016, "Conditional Image Generation with PixelCNN Decoders"): autoregressive densities over pixels in raster order
 * and colour channels in R, G, B order, whose conditionals all come from one convolutional network made causal by
 * masked kernels ({@link org.chainrule.models.pixelcnn.MaskedConvolution}). The likelihood is exact in one network
 * pass; sampling, with every activation cached and computed once (Ramachandran et al. 2017, "Fast Generation for
 * Convolutional Autoregressive Models"), costs one pass too instead of one per sub-pixel.
 */
package org.chainrule.models.pixelcnn;
