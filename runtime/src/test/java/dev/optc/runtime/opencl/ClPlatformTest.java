package dev.optc.runtime.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

class ClPlatformTest {

  @Test
  void platformsNeverThrowAndTheReasonIsOneLine() {
    var platforms = OpenCl.platforms(); // must not throw, whatever the machine has
    var reason = OpenCl.unavailableReason();
    assertFalse(reason.contains("\n"), reason);
    if (platforms.isEmpty()) {
      assertTrue(reason.contains("pocl-opencl-icd"), reason);
    } else {
      assertTrue(reason.startsWith("OpenCL is available"), reason);
    }
  }

  @Test
  void listsPlatformsAndDevices() {
    Assumptions.assumeTrue(!OpenCl.platforms().isEmpty(), OpenCl.unavailableReason());
    int devices = 0;
    for (var platform : OpenCl.platforms()) {
      assertFalse(platform.name().isBlank());
      assertTrue(platform.version().startsWith("OpenCL "), platform.version());
      assertTrue(platform.apiVersion().atLeast(1, 2), platform.version());
      System.out.printf("platform: %s | %s | %s%n", platform.name(), platform.vendor(), platform.version());
      for (var d : platform.devices()) {
        devices++;
        assertEquals(platform, d.platform());
        assertFalse(d.name().isBlank());
        assertTrue(d.computeUnits() > 0);
        assertTrue(d.maxWorkGroupSize() > 0);
        assertTrue(d.maxMemAllocSize() > 0 && d.maxMemAllocSize() <= d.globalMemSize());
        assertTrue(d.localMemSize() > 0);
        assertTrue(d.preferredVectorWidthFloat() >= 1);
        assertEquals(d, platform.devices(d.type()).stream().filter(d::equals).findFirst().orElseThrow());
        System.out.printf("  device: %s | %s | %s | driver %s | %s | %s | %d CUs | max WG %d | global %d |"
                + " max alloc %d | local %d | float vec %d | fp64 %b | fp16 %b%n",
            d.name(), d.vendor(), d.version(), d.driverVersion(), d.openClCVersion(), d.type(), d.computeUnits(),
            d.maxWorkGroupSize(), d.globalMemSize(), d.maxMemAllocSize(), d.localMemSize(),
            d.preferredVectorWidthFloat(), d.supportsFp64(), d.supportsFp16());
      }
    }
    assertTrue(devices > 0, "no device on " + OpenCl.platforms());
  }

  @Test
  void pocl() {
    Assumptions.assumeTrue(!OpenCl.platforms().isEmpty(), OpenCl.unavailableReason());
    var pocl = OpenCl.platforms().stream().filter(p -> p.name().contains("Portable Computing Language")).findFirst();
    Assumptions.assumeTrue(pocl.isPresent(), "PoCL is not installed here");
    var cpus = pocl.orElseThrow().devices(ClDevice.Type.CPU);
    assertFalse(cpus.isEmpty());
    assertTrue(pocl.orElseThrow().devices(ClDevice.Type.GPU).isEmpty(), "PoCL's CPU driver has no GPU");
  }

  @Test
  void versionParsing() {
    assertEquals(new ClVersion(3, 0), ClVersion.parse("OpenCL 3.0 PoCL 3.1+debian  Linux, None+Asserts"));
    assertEquals(new ClVersion(1, 2), ClVersion.parse("OpenCL 1.2 CUDA 12.4.131"));
    assertEquals(new ClVersion(1, 0), ClVersion.parse("garbage"));
    assertTrue(new ClVersion(2, 1).atLeast(2, 0));
    assertFalse(new ClVersion(1, 2).atLeast(2, 0));
  }
}
