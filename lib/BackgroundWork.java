import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;

/**
 * Work started on a daemon thread of its own (one of the archive's files read, one of
 * production's documents fetched, a report made, while the caller does something else), whose
 * outcome is taken later as if it had run in line: its result, or the very exception it threw.
 */
public final class BackgroundWork {
    private BackgroundWork() {}

    /** {@code work} started on a daemon thread named {@code name}; {@link #result} gives its outcome. */
    public static <T> FutureTask<T> start(String name, Callable<T> work) {
        FutureTask<T> task = new FutureTask<>(work);
        Thread t = new Thread(task, name);
        t.setDaemon(true);
        t.start();
        return task;
    }

    /** Waits for the work and gives what it made, or throws what it threw, as it was thrown. */
    public static <T> T result(Future<T> task) throws Exception {
        try {
            return task.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception x) throw x;
            if (e.getCause() instanceof Error x) throw x;
            throw e;
        }
    }

    /** Waits for the work to end, whatever its outcome ({@link #result} reports it where it is taken). */
    public static void settle(Future<?> task) throws InterruptedException {
        try {
            task.get();
        } catch (ExecutionException e) {
            // reported where its result is taken
        }
    }
}
