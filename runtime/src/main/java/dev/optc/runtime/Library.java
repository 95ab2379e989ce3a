package dev.optc.runtime;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;

/** The standard optimizers packaged in the optimizers module as {@code dev/optc/optimizers/NAME.opt}. */
public final class Library {
  /** Every library optimizer, in the order the README lists them. */
  public static final List<String> NAMES = List.of(
      "sgd", "adam", "adamw", "adagrad", "rmsprop", "nadam", "radam", "adamax", "adadelta", "lion", "adan",
      "lars", "lamb", "adafactor", "adamw_clip", "adamw8bit", "adam8bit", "lion8bit", "adamw4bit", "sophia",
      "schedulefree_adamw", "muon", "adam_mini");

  private Library() {}

  /** The source of library optimizer {@code name}, if there is one. */
  public static Optional<String> source(String name) {
    if (!name.matches("[A-Za-z0-9_]+")) {
      return Optional.empty();
    }
    try (var in = Library.class.getClassLoader().getResourceAsStream("dev/optc/optimizers/" + name + ".opt")) {
      if (in == null) {
        return Optional.empty();
      }
      return Optional.of(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
