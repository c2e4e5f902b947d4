/** Distributed training by synchronous parameter averaging rounds on plain Spark, with checkpoints, resume and early stopping. */
package org.chainrule.pipelines.train;
