/** Distributed training by dl4j-spark parameter averaging, with checkpoints, resume and early stopping. */
package org.chainrule.pipelines.train;
