package org.chainrule.models.flows;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ChainTest {

    /** y = exp(s) * x + b per dimension: the simplest transform with a non-zero log-determinant. */
    static final class Scale implements Transform {
        private final long[] shape;

        Scale(long... shape) {
            this.shape = shape;
        }

        @Override
        public long[] inputShape() {
            return shape;
        }

        @Override
        public Map<String, long[]> parameterShapes() {
            Map<String, long[]> m = new LinkedHashMap<>();
            m.put("s", FlowChecks.withBatch(1, shape));
            m.put("b", FlowChecks.withBatch(1, shape));
            return m;
        }

        @Override
        public void initialize(Map<String, INDArray> params, long seed) {
            params.get("s").assign(Nd4j.rand(params.get("s").dataType(), params.get("s").shape()).subi(0.5));
            params.get("b").assign(Nd4j.rand(params.get("b").dataType(), params.get("b").shape()));
        }

        @Override
        public Flowed forward(SameDiff sd, SDVariable x, Map<String, SDVariable> p) {
            SDVariable logDet = Flows.sumPerExample(p.get("s"), shape).add(Flows.zeroLogDet(x, shape));
            return new Flowed(x.mul(sd.math().exp(p.get("s"))).add(p.get("b")), logDet);
        }

        @Override
        public Flowed inverse(SameDiff sd, SDVariable z, Map<String, SDVariable> p) {
            SDVariable logDet = Flows.sumPerExample(p.get("s"), shape).neg()
                    .add(Flows.zeroLogDet(z, shape));
            return new Flowed(z.sub(p.get("b")).div(sd.math().exp(p.get("s"))), logDet);
        }

        @Override
        public Map<String, Object> toMap() {
            return Map.of("kind", "test-scale");
        }
    }

    @Test
    void chainAddsLogDeterminantsAndInvertsInReverse() {
        Chain chain = new Chain(List.of(new Scale(3), new Scale(3)));
        Map<String, INDArray> p = Flows.newParameters(chain, DataType.DOUBLE, 7);
        assertEquals(List.of("t0s", "t0b", "t1s", "t1b"), List.copyOf(p.keySet()));
        INDArray x = Nd4j.randn(DataType.DOUBLE, 5, 3);
        FlowChecks.assertRoundTrip(chain, p, x, 1e-10);
        FlowChecks.assertLogDetMatchesJacobian(chain, p, x, 1e-6);
        double expected = p.get("t0s").sumNumber().doubleValue() + p.get("t1s").sumNumber().doubleValue();
        assertEquals(expected, Flows.forward(chain, p, x).logAbsDet().getDouble(4), 1e-12);
    }

    @Test
    void quadratureSeesAWrongLogDeterminant() {
        Scale t = new Scale(1);
        Map<String, INDArray> p = Flows.newParameters(t, DataType.DOUBLE, 1);
        p.get("s").assign(0.7);
        FlowChecks.assertIntegratesToOne(t, p, -12, 12, 4000, 1e-6);
        Chain two = new Chain(List.of(new Scale(2)));
        Map<String, INDArray> p2 = Flows.newParameters(two, DataType.DOUBLE, 2);
        FlowChecks.assertIntegratesToOne(two, p2, -10, 10, 400, 1e-4);
    }

    @Test
    void chainRejectsMismatchedShapes() {
        assertThrows(IllegalArgumentException.class, () -> new Chain(List.of(new Scale(3), new Scale(2))));
    }
}
