package org.chainrule.models.flows;

import org.chainrule.models.Described;

/**
 * A transform whose identity is its description ({@link Described#sameDescription}): two transforms are equal when
 * they are of the same class and {@link #toMap()} describes them the same way, which is also what a saved model
 * rebuilds them from.
 */
public abstract class DescribedTransform implements Transform {
    private static final long serialVersionUID = 1L;

    @Override
    public final boolean equals(Object o) {
        return Described.sameDescription(this, o);
    }

    @Override
    public final int hashCode() {
        return toMap().hashCode();
    }

    @Override
    public String toString() {
        return toMap().toString();
    }
}
