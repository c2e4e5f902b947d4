/** Distributed likelihood evaluation: per-row log-likelihoods to Parquet and a summary. */
package org.chainrule.pipelines.evaluate;
