package dev.optc.compiler.pass;

import dev.optc.compiler.ir.IrProgram;

/** A pure IR → IR function; it returns the same instance when it changes nothing. */
public interface Pass {
  String name();

  IrProgram run(IrProgram program);
}
