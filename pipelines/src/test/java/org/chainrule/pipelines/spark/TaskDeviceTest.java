package org.chainrule.pipelines.spark;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The choice of CUDA device from Spark's GPU addresses (the placement itself needs a GPU; see docs/operations.md). */
class TaskDeviceTest {
    @Test
    void theFirstAddressIsTheDevice() {
        assertEquals(3, TaskDevice.choose(new String[]{"3", "5"}, 8));
        assertEquals(0, TaskDevice.choose(new String[]{" 0 "}, 1));
    }

    @Test
    void anIsolatedContainerRenumbersItsDevices() {
        // the host's gpu 5 seen through a container that shows 2 devices
        assertEquals(1, TaskDevice.choose(new String[]{"5"}, 2));
        assertEquals(0, TaskDevice.choose(new String[]{"4"}, 1));
    }

    @Test
    void addressesThatAreNotDeviceNumbersAreRefusedByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TaskDevice.choose(new String[]{"GPU-8f2a"}, 2));
        assertTrue(e.getMessage().contains("GPU-8f2a"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TaskDevice.choose(new String[]{}, 2));
        assertThrows(IllegalArgumentException.class, () -> TaskDevice.choose(new String[]{"-1"}, 2));
        assertThrows(IllegalStateException.class, () -> TaskDevice.choose(new String[]{"0"}, 0));
    }
}
