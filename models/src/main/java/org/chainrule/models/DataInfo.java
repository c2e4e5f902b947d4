package org.chainrule.models;

import java.util.Arrays;

/**
 * What a model family must know of a dataset to build a model for it: the event shape and what the values are.
 *
 * @param eventShape shape of one event
 * @param valueType  {@code binary}, {@code uint8} (integers 0..levels-1) or {@code real}
 * @param levels     values per dimension of discrete data (2 for binary); 0 for real data
 * @param classes    label classes (0: the data has no labels)
 * @param text       whether the values are characters of a text vocabulary
 */
public record DataInfo(long[] eventShape, String valueType, int levels, int classes, boolean text) {
    public DataInfo {
        eventShape = eventShape.clone();
    }

    public boolean isReal() {
        return valueType.equals("real");
    }

    /** Whether the events are images an image model takes: integer pixels of shape [H, W] or [H, W, C]. */
    public boolean isImage() {
        return (eventShape.length == 2 || eventShape.length == 3) && !isReal() && !text;
    }

    /** The problem an image model of {@code type} reports on data that is not {@link #isImage() images}. */
    public String notImages(String type) {
        return "model.type = " + type + " models images: integer pixels of shape [H, W] or [H, W, C], not "
                + valueType + " events of shape " + Arrays.toString(eventShape);
    }

    /** Number of scalar dimensions in one event. */
    public long dims() {
        return Arrays.stream(eventShape).reduce(1, (a, b) -> a * b);
    }

    @Override
    public long[] eventShape() {
        return eventShape.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DataInfo d && Arrays.equals(eventShape, d.eventShape) && valueType.equals(d.valueType)
                && levels == d.levels && classes == d.classes && text == d.text;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(eventShape) * 31 + valueType.hashCode() + levels * 7 + classes * 13 + (text ? 1 : 0);
    }

    @Override
    public String toString() {
        return valueType + " events of shape " + Arrays.toString(eventShape) + (text ? " (text)" : "");
    }
}
