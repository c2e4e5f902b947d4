package org.chainrule.models.sequence;

import com.typesafe.config.Config;
import org.chainrule.models.DataInfo;
import org.chainrule.models.ModelFamily;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.Section;

import java.util.List;

/**
 * Character-level language models over text data: {@code char-lstm} and {@code char-rnn} (settings
 * {@code model.char-lstm} / {@code model.char-rnn}: stacked recurrent widths, element-wise gradient clipping).
 */
public final class CharRnnFamily implements ModelFamily {
    @Override
    public List<String> types() {
        return List.of("char-lstm", "char-rnn");
    }

    @Override
    public ModelSpec build(String type, Section s, DataInfo data) {
        int[] hidden = s.widths("hidden");
        double clip = s.real("gradient-clip", 1e-6, 1e6);
        if (hidden.length == 0) {
            s.problem("hidden", "is empty: a " + type + " needs at least one hidden layer");
        }
        if (data != null && !data.text()) {
            s.problem("model.type = " + type + " models text; prepare the data with format = text");
        }
        if (data == null || !s.ok()) {
            return null;
        }
        int length = (int) data.eventShape()[0];
        return (type.equals("char-lstm") ? CharRnnSpec.lstm(length, data.levels(), hidden)
                : CharRnnSpec.rnn(length, data.levels(), hidden)).withGradientClip(clip);
    }

    @Override
    public ModelSpec read(Config saved) {
        return CharRnnSpec.fromConfig(saved);
    }
}
