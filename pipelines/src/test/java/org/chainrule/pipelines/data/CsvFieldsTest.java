package org.chainrule.pipelines.data;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The CSV field splitter and the number reader's fast path agree with the rules they shortcut. */
class CsvFieldsTest {
    @Test
    void fieldsAreWhatSplittingOnTheDelimiterGives() {
        for (String line : List.of("", ",", "a", "a,b", "a,,b", ",a,", "1,2,3,", " 1 , 2 ", ",,,")) {
            for (char d : new char[]{',', ';', '|', '.'}) {
                String l = line.replace(',', d);
                assertArrayEquals(l.split(Pattern.quote(String.valueOf(d)), -1), Readers.fields(l, d), l);
            }
        }
    }

    @Test
    void shortDigitRunsReadAsTheRegularExpressionReadsThem() {
        for (String text : List.of("0", "1", "07", "255", "999999999", "1234567890", "", "1.", "1a", "-1", "+2",
                "1e3", "١")) {
            Double slow = Pattern.matches("[+-]?(NaN|Infinity|(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?)", text)
                    ? Double.valueOf(text) : null;
            assertEquals(slow, Readers.number(text), text);
        }
    }
}
