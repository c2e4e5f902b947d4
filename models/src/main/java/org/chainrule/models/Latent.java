package org.chainrule.models;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A model with an invertible map between data and a latent space (a normalizing flow): what latent-space
 * interpolation needs.
 */
public interface Latent {

    /** The latent code of each event row, {@code [batch, D]}. */
    INDArray encode(INDArray x);

    /** The events of latent codes, {@code [batch, D]}, in the data's own values (discrete data rounded down). */
    INDArray decode(INDArray z);
}
