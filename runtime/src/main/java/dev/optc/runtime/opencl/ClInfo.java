package dev.optc.runtime.opencl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.function.Supplier;

/**
 * The {@code clGet*Info} protocol shared by every query: ask for the size, allocate, ask for the value.
 * Each query is a lambda over {@code (size, value, size_ret)} that closes over the handle and the
 * parameter name; temporaries live in a confined arena for the duration of one query.
 */
final class ClInfo {

  @FunctionalInterface
  interface Query {
    int call(long size, MemorySegment value, MemorySegment sizeRet);
  }

  /** A {@code char[]} value, without its terminating NUL. */
  static String string(Query query, String call, Supplier<String> during) {
    try (var arena = Arena.ofConfined()) {
      var size = arena.allocate(JAVA_LONG);
      ClStatus.check(query.call(0, MemorySegment.NULL, size), call, during);
      long n = size.get(JAVA_LONG, 0);
      if (n == 0) {
        return "";
      }
      var value = arena.allocate(n);
      ClStatus.check(query.call(n, value, MemorySegment.NULL), call, during);
      return value.getString(0);
    }
  }

  /** A {@code cl_uint} value. */
  static int uint(Query query, String call, Supplier<String> during) {
    try (var arena = Arena.ofConfined()) {
      var value = arena.allocate(JAVA_INT);
      ClStatus.check(query.call(JAVA_INT.byteSize(), value, MemorySegment.NULL), call, during);
      return value.get(JAVA_INT, 0);
    }
  }

  /** A {@code cl_ulong}, {@code size_t} or {@code cl_bitfield} value (all 64 bits here). */
  static long ulong(Query query, String call, Supplier<String> during) {
    try (var arena = Arena.ofConfined()) {
      var value = arena.allocate(JAVA_LONG);
      ClStatus.check(query.call(JAVA_LONG.byteSize(), value, MemorySegment.NULL), call, during);
      return value.get(JAVA_LONG, 0);
    }
  }

  /** A handle value ({@code cl_context}, {@code cl_platform_id}, …). */
  static MemorySegment address(Query query, String call, Supplier<String> during) {
    try (var arena = Arena.ofConfined()) {
      var value = arena.allocate(ADDRESS);
      ClStatus.check(query.call(ADDRESS.byteSize(), value, MemorySegment.NULL), call, during);
      return value.get(ADDRESS, 0);
    }
  }

  private ClInfo() {}
}
