package dev.optc.compiler.diag;

/**
 * A bug in optc, not in the user's program (a broken IR invariant, an unhandled case). The CLI reports
 * it with exit code 70 and asks for a bug report; it is never used for bad input.
 */
public final class InternalCompilerError extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public InternalCompilerError(String message) {
    super(message);
  }

  public InternalCompilerError(String message, Throwable cause) {
    super(message, cause);
  }
}
