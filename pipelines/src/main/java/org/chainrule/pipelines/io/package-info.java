/** Hadoop-filesystem I/O: atomic outputs, JSON documents, saved models and pictures. */
package org.chainrule.pipelines.io;
