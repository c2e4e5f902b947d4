package org.chainrule.models.flows;

import com.typesafe.config.ConfigFactory;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams;
import org.deeplearning4j.nn.conf.layers.samediff.SameDiffLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A whole flow as one SameDiff layer: input the (dequantized) events {@code [batch, D]} (or, under
 * variational dequantization, the events and their noise, {@code [batch, 2D]}), output each example's exact
 * NLL {@code [batch, 1]} for {@link org.chainrule.models.NllOutputLoss}. The layer carries its {@link FlowSpec} as a
 * JSON string (one bean property), so DL4J and dl4j-spark rebuild any transform on executors without a bean accessor
 * per transform field.
 */
public class FlowLayer extends SameDiffLayer {
    private String spec;
    private transient FlowSpec parsed;

    /** For JSON deserialization. */
    public FlowLayer() {
    }

    public FlowLayer(FlowSpec spec) {
        this.spec = spec.toJson();
        this.parsed = spec;
    }

    /** The flow this layer computes. */
    public FlowSpec flow() {
        if (parsed == null) {
            parsed = FlowSpec.fromConfig(ConfigFactory.parseString(spec));
        }
        return parsed;
    }

    /**
     * The trained parameters of a flow network by name ({@link FlowSpec#parameterShapes()}: the transform's, then
     * those of a variational dequantizer and of a learned base); views, so writing them updates the net.
     */
    public static Map<String, INDArray> parameters(MultiLayerNetwork network) {
        FlowSpec f = ((FlowLayer) network.getLayer(0).conf().getLayer()).flow();
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (String name : f.parameterShapes().keySet()) {
            out.put(name, network.getLayer(0).getParam(name));
        }
        return out;
    }

    @Override
    public SDVariable defineLayer(SameDiff sd, SDVariable layerInput, Map<String, SDVariable> paramTable,
                                  SDVariable inputMask) {
        return flow().nll(sd, layerInput, paramTable);
    }

    @Override
    public void defineParameters(SDLayerParams params) {
        params.clear();
        flow().parameterShapes().forEach(params::addWeightParam);
    }

    @Override
    public void initializeParameters(Map<String, INDArray> params) {
        flow().initialize(params, 0x466c6f77L);
    }

    @Override
    public InputType getOutputType(int layerIndex, InputType inputType) {
        return InputType.feedForward(1);
    }

    @Override
    public void setNIn(InputType inputType, boolean override) {
        // fixed by the spec
    }

    public String getSpec() {
        return spec;
    }

    public void setSpec(String spec) {
        this.spec = spec;
        this.parsed = null;
    }
}
