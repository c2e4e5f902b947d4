package org.chainrule.models;

import java.util.Map;

/**
 * A value whose identity is its description: the map it is saved as and rebuilt from (every {@link ModelSpec}, a
 * flow's transforms and options). {@link #sameDescription} is the one definition of their equality: the same class,
 * described the same way. Java lets no interface supply {@code equals}, and a record holding an array would compare
 * it by reference, so each such type delegates its {@code equals} here and hashes its {@link #toMap()}.
 */
public interface Described {

    /** The description, saved next to a model and read back to rebuild the value; equal values give equal maps. */
    Map<String, Object> toMap();

    /** Whether {@code other} is of {@code self}'s class and has the same description. */
    static boolean sameDescription(Described self, Object other) {
        return other != null && other.getClass() == self.getClass()
                && self.toMap().equals(((Described) other).toMap());
    }
}
