/**
 * Datasets: readers for MNIST idx, CSV and Parquet sources, the {@code prepare} pipeline that validates, binarizes,
 * splits and shards them into Parquet with a {@link org.chainrule.pipelines.data.Manifest}, and
 * {@link org.chainrule.pipelines.data.Shards} to read a prepared split back.
 */
package org.chainrule.pipelines.data;
