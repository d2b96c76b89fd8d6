import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;

/**
 * The shell entry of every script: runs its body and turns the outcome into an exit code
 * and a clear message. 0 = done (or nothing to do), 1 = failure, 2 = usage error. A user
 * never sees a stack trace unless KIT_DEBUG=1 asks for one.
 */
public final class StepMain {
    public static final int OK = 0, FAILED = 1, USAGE = 2;

    private StepMain() {}

    /** Runs {@code body} and exits the JVM with its code. */
    public static void exit(Callable<Integer> body) {
        // Names like "Béatrice" must print as UTF-8 whatever the locale of the shell.
        System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8));
        System.exit(run(body));
    }

    public static int run(Callable<Integer> body) {
        try {
            return body.call();
        } catch (Args.Help h) {
            System.out.print(h.getMessage());
            return OK;
        } catch (Args.Usage u) {
            System.err.println("Usage error: " + u.getMessage() + " (see --help)");
            return USAGE;
        } catch (KitException e) {
            for (String line : e.lines()) System.err.println(line == e.lines().get(0) ? "ERROR: " + line : line);
            debug(e);
            return FAILED;
        } catch (Exception | Error e) {
            System.err.println("ERROR: unexpected failure: " + e);
            System.err.println("  -> nothing was left half-written; run again with KIT_DEBUG=1 for details and report it");
            debug(e);
            return FAILED;
        }
    }

    private static void debug(Throwable t) {
        if ("1".equals(System.getenv("KIT_DEBUG"))) t.printStackTrace();
    }
}
