/**
 * spark-submit entry points: {@link org.chainrule.jobs.Main} with the prepare, train, evaluate and sample commands,
 * and the typed, validated settings they read from HOCON ({@link org.chainrule.jobs.Settings}).
 */
package org.chainrule.jobs;
