/** Distributed sample generation, deterministic per seed, to Parquet and a PNG grid. */
package org.chainrule.pipelines.sample;
