package org.chainrule.pipelines.data;

import java.io.Serializable;

/**
 * One input file of a split; for idx sources the matching labels file rides along.
 *
 * @param split      {@code train} or {@code test}
 * @param index      position among the split's files (files are read in this order)
 * @param path       the data file
 * @param labelsPath labels file for idx sources, or null
 */
public record SourceFile(String split, int index, String path, String labelsPath) implements Serializable {
}
