package org.chainrule.models;

/** Unit conversions for log-likelihoods. The only place where bits/dim is computed from nats. */
public final class Units {
    private static final double LN2 = Math.log(2.0);

    private Units() {
    }

    /**
     * Converts a negative log-likelihood of one example in nats to bits per dimension.
     *
     * @param nllNats {@code -log p(x)} of one event, in nats
     * @param dims    number of scalar dimensions of the event
     */
    public static double bitsPerDim(double nllNats, long dims) {
        if (dims <= 0) {
            throw new IllegalArgumentException("dims must be positive, got " + dims);
        }
        return nllNats / (dims * LN2);
    }
}
