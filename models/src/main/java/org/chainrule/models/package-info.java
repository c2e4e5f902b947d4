/**
 * The model library: normalized densities over a fixed event shape, written against ND4J/DL4J only (no Spark).
 *
 * <p>{@link org.chainrule.models.DensityModel} is the contract every model keeps: per-example log-likelihoods in
 * nats and seeded ancestral sampling. {@link org.chainrule.models.TrainableModel} is the training view: a DL4J
 * network whose loss is the mean negative log-likelihood, which dl4j-spark trains unchanged.
 */
package org.chainrule.models;
