package dev.optc.training;

import dev.optc.runtime.OptcException;
import dev.optc.training.tasks.CharLmTask;
import dev.optc.training.tasks.DigitsTask;
import java.util.List;

/** The tasks {@code optc train} knows. */
public final class Tasks {
  private Tasks() {}

  public static List<Task> all() {
    return List.of(new DigitsTask(), new CharLmTask());
  }

  /** The task called {@code name}; a one-line error listing them otherwise. */
  public static Task named(String name) {
    return all().stream().filter(t -> t.name().equals(name)).findFirst()
        .orElseThrow(() -> new OptcException("unknown task '" + name + "' (tasks: "
            + String.join(", ", all().stream().map(Task::name).toList()) + ")"));
  }
}
