package dev.optc.runtime;

/**
 * Bad input from a user of the runtime or the CLI (a missing file, a wrong shape, an unknown hyper): the
 * message is one line saying what was wrong and what to do. The CLI prints it and exits with code 2.
 */
public class OptcException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public OptcException(String message) {
    super(message);
  }

  public OptcException(String message, Throwable cause) {
    super(message, cause);
  }
}
