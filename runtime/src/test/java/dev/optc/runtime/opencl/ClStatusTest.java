package dev.optc.runtime.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HashSet;
import org.junit.jupiter.api.Test;

/** No device needed: the table and the message format. */
class ClStatusTest {

  @Test
  void namesTheCodesOfTheHeaders() {
    assertEquals("CL_OUT_OF_RESOURCES", ClStatus.nameOf(-5));
    assertEquals("CL_BUILD_PROGRAM_FAILURE", ClStatus.nameOf(-11));
    assertEquals("CL_INVALID_BUILD_OPTIONS", ClStatus.nameOf(-43));
    assertEquals("CL_INVALID_BUFFER_SIZE", ClStatus.nameOf(-61));
    assertEquals("CL_MAX_SIZE_RESTRICTION_EXCEEDED", ClStatus.nameOf(-72));
    assertEquals("CL_PLATFORM_NOT_FOUND_KHR", ClStatus.nameOf(-1001));
    assertEquals("unknown OpenCL status", ClStatus.nameOf(-9999));
    assertTrue(ClStatus.of(-20).isEmpty(), "-20..-29 are unassigned");
  }

  @Test
  void everyCodeFromMinus72ToZeroExceptTheGapIsNamed() {
    for (int code = -72; code <= 0; code++) {
      boolean gap = code <= -20 && code >= -29;
      assertEquals(!gap, ClStatus.of(code).isPresent(), "code " + code);
    }
    var codes = new HashSet<Integer>();
    Arrays.stream(ClStatus.values()).forEach(s -> assertTrue(codes.add(s.code()), "duplicate " + s));
  }

  @Test
  void exceptionNamesCallStatusAndWhatWasBeingDone() {
    var e = new ClException("clCreateBuffer", -61, "allocating 17179869184 bytes on pthread-skylake");
    assertEquals("clCreateBuffer failed: CL_INVALID_BUFFER_SIZE (-61) while allocating 17179869184 bytes on"
        + " pthread-skylake", e.getMessage());
    assertEquals("clCreateBuffer", e.call());
    assertEquals(-61, e.code());
    assertEquals("CL_INVALID_BUFFER_SIZE", e.codeName());
    assertEquals(ClStatus.CL_INVALID_BUFFER_SIZE, e.status().orElseThrow());

    var build = new ClBuildException("clBuildProgram", -11, "building a program", "<source>:3:5: error: oops\n");
    assertEquals("clBuildProgram failed: CL_BUILD_PROGRAM_FAILURE (-11) while building a program; build log:\n"
        + "<source>:3:5: error: oops", build.getMessage());
  }
}
