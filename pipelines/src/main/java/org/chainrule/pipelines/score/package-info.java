/**
 * Scoring anybody's data: the {@code score} job over any table Spark reads, the {@link
 * org.chainrule.pipelines.score.DensityScorer} Spark ML model (batch and streaming, saved inside PipelineModels), and
 * {@link org.chainrule.pipelines.score.SqlFunctions} for Spark SQL. Raw values are encoded as the model's data was;
 * every row comes out, a row that cannot be scored with the reason.
 */
package org.chainrule.pipelines.score;
