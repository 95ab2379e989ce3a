package dev.optc.cli;

import dev.optc.runtime.opencl.OpenCl;
import dev.optc.runtime.opencl.OpenClBackend;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Spec;

@Command(name = "devices", mixinStandardHelpOptions = true,
    description = {"List the OpenCL platforms and devices optc can run on, with the PLATFORM:DEVICE indices "
        + "that --backend opencl:PLATFORM:DEVICE and $OPTC_DEVICE take."})
final class DevicesCommand implements Callable<Integer> {
  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    var out = spec.commandLine().getOut();
    var all = OpenClBackend.devices();
    if (all.isEmpty()) {
      spec.commandLine().getErr().println("optc: " + OpenCl.unavailableReason());
      return Main.EXIT_USAGE;
    }
    int lastPlatform = -1;
    for (var l : all) {
      if (l.platform() != lastPlatform) {
        out.printf("platform %d: %s (%s)%n", l.platform(), l.platformInfo().name(), l.platformInfo().version());
        lastPlatform = l.platform();
      }
      var d = l.deviceInfo();
      out.printf("  opencl:%d:%d  %-40s %s, %d compute units, %.1f GiB, max work-group %d, %s%n",
          l.platform(), l.device(), d.name(), d.type(), d.computeUnits(), d.globalMemSize() / (double) (1L << 30),
          d.maxWorkGroupSize(), d.version());
    }
    var chosen = OpenClBackend.select("");
    out.println("default: " + chosen.device().name()
        + (System.getenv("OPTC_DEVICE") != null ? " ($OPTC_DEVICE)" : " (first GPU, else first device)"));
    out.flush();
    return 0;
  }
}
