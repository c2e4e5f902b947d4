package org.chainrule.models;

import com.typesafe.config.ConfigFactory;
import org.chainrule.models.autoregressive.MadeLayer;
import org.chainrule.models.autoregressive.MadeSpec;
import org.chainrule.models.conditionals.Bernoulli;
import org.chainrule.models.nade.NadeLayer;
import org.chainrule.models.nade.NadeSpec;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The ordering setting: what it names, and that it survives every way a model travels (saved spec, layer JSON). */
class OrderingTest {
    @Test
    void settingsNameRasterOrASeededPermutation() {
        assertEquals("raster", Ordering.parse("raster"));
        assertEquals(Long.toString(Ordering.RANDOM_SEED), Ordering.parse("random"));
        assertEquals("42", Ordering.parse(" 42 "));
        assertThrows(IllegalArgumentException.class, () -> Ordering.parse("shuffled"));
        assertThrows(IllegalArgumentException.class, () -> Ordering.parse("2.5"));

        assertArrayEquals(new int[]{0, 1, 2, 3, 4, 5}, Ordering.first(6, "raster"));
        int[] a = Ordering.first(784, "7");
        assertArrayEquals(a, Ordering.first(784, "7"), "a pure function of the seed");
        assertFalse(Arrays.equals(a, Ordering.first(784, "8")));
        int[] sorted = a.clone();
        Arrays.sort(sorted);
        assertArrayEquals(Ordering.first(784, "raster"), sorted, "a permutation");
        assertNotEquals(0, a[0] + a[1] + a[2], "not the raster start");
    }

    @Test
    void madeMasksFollowTheOrderingAndItIsSavedOnlyWhenNotRaster() {
        MadeSpec raster = MadeSpec.made(new long[]{10}, new int[]{12}, 3, true, 2);
        MadeSpec random = raster.withOrdering("random");
        assertArrayEquals(Ordering.first(10, random.ordering()), random.masks(0).ordering());
        assertArrayEquals(raster.masks(1).ordering(), random.masks(1).ordering(),
                "order-agnostic mask sets after the first keep their own permutations");
        assertFalse(raster.toMap().containsKey("ordering"), "models saved before the setting read back as raster");
        assertEquals(random, ModelFamilies.read(ConfigFactory.parseMap(random.toMap())));
        assertEquals(raster, ModelFamilies.read(ConfigFactory.parseMap(raster.toMap())));
        assertNotEquals(raster, random);

        NadeSpec nade = NadeSpec.of(new long[]{6}, new Bernoulli(), 4).withOrdering("3");
        assertArrayEquals(Ordering.first(6, "3"), nade.ordering(0));
        assertEquals(nade, ModelFamilies.read(ConfigFactory.parseMap(nade.toMap())));
    }

    /** Executors rebuild training networks from their JSON: a layer must carry its ordering there. */
    @Test
    void layersCarryTheOrderingThroughJson() {
        MadeSpec made = MadeSpec.made(new long[]{6}, new int[]{8}, 1, false, 1).withOrdering("5");
        MultiLayerConfiguration c = made.trainingConfiguration(new TrainingRecipe(1e-3, 1));
        MadeLayer back = (MadeLayer) MultiLayerConfiguration.fromJson(c.toJson()).getConf(0).getLayer();
        assertEquals("5", back.getOrdering());
        NadeSpec nade = NadeSpec.of(new long[]{6}, new Bernoulli(), 4).withOrdering("9");
        NadeLayer nadeBack = (NadeLayer) MultiLayerConfiguration.fromJson(
                nade.trainingConfiguration(new TrainingRecipe(1e-3, 1)).toJson()).getConf(0).getLayer();
        assertEquals("9", nadeBack.getOrdering());
        assertTrue(MultiLayerConfiguration.fromJson(c.toJson()).toJson().contains("\"ordering\""));
    }
}
