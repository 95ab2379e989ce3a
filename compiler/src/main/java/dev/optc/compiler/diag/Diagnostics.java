package dev.optc.compiler.diag;

import java.util.ArrayList;
import java.util.List;

/** Collects every problem of a file so that all of them are reported in one run. */
public final class Diagnostics {
  private final List<Diagnostic> all = new ArrayList<>();

  public void report(DiagnosticCode code, Span span, String message, String hint) {
    all.add(new Diagnostic(code, span, message, hint));
  }

  public void report(DiagnosticCode code, Span span, String message) {
    report(code, span, message, null);
  }

  public boolean hasErrors() {
    return all.stream().anyMatch(Diagnostic::isError);
  }

  /** Every diagnostic so far, in source order. */
  public List<Diagnostic> sorted() {
    return all.stream().sorted(Diagnostic.BY_POSITION).toList();
  }

  /** Throws a {@link CompileException} holding everything reported if any of it is an error. */
  public void throwIfErrors() throws CompileException {
    if (hasErrors()) {
      throw new CompileException(sorted());
    }
  }
}
