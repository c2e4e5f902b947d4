/**
 * Anomaly and out-of-distribution detection on top of the score job's exact likelihoods: the {@code detect} job
 * (an anomaly score per row, a threshold from reference data, a flag), the {@code ood-eval} job (how well a score
 * separates in-distribution from out-of-distribution rows: AUROC, AUPRC, FPR at 95% TPR), and the scores themselves
 * ({@link org.chainrule.pipelines.detect.Method}).
 */
package org.chainrule.pipelines.detect;
