package dev.optc.compiler.diag;

/**
 * A bug in optc, not in the user's program (a broken IR invariant, an unhandled case). The CLI reports
 * it with exit code 70 and asks for a bug report; it is never used for bad input.
 */
public final class InternalCompilerError extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** What a bug report needs beyond the message (a generated source, a tool's output); may be null. */
  private final String details;

  public InternalCompilerError(String message) {
    this(message, null, null);
  }

  public InternalCompilerError(String message, Throwable cause) {
    this(message, cause, null);
  }

  /** @param details long text for the saved report, never printed on the terminal */
  public InternalCompilerError(String message, Throwable cause, String details) {
    super(message, cause);
    this.details = details;
  }

  public String details() {
    return details;
  }
}
