/**
 * Spark pipelines: data preparation and sharding ({@code data}), distributed training by parameter averaging
 * ({@code train}), distributed likelihood evaluation ({@code evaluate}) and sample generation ({@code sample}).
 * Everything a pipeline writes goes through {@link org.chainrule.pipelines.io.Outputs}, so outputs are complete or
 * absent.
 */
package org.chainrule.pipelines;
