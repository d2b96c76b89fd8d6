import java.io.PrintStream;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A progress bar for long work: done/total, rate and time left. On a terminal it redraws one
 * line; in a log or pipe it prints a line at most every few seconds. Safe to advance from
 * several threads (parallel downloads and uploads).
 */
public final class ProgressBar implements AutoCloseable {
    private static final int WIDTH = 28;
    private final PrintStream out;
    private final boolean redraw;
    private final String label;
    private final long total;
    private final boolean bytes;
    private final long startNanos = System.nanoTime();
    private final AtomicLong done = new AtomicLong();
    private long lastDraw;
    private boolean finished;

    ProgressBar(PrintStream out, boolean redraw, String label, long total, boolean bytes) {
        this.out = out;
        this.redraw = redraw;
        this.label = label;
        this.total = Math.max(0, total);
        this.bytes = bytes;
        draw(true);
    }

    public void advance(long n) {
        done.addAndGet(n);
        draw(false);
    }

    public long done() {
        return done.get();
    }

    private synchronized void draw(boolean force) {
        if (finished) return;
        long now = System.nanoTime();
        long minGap = redraw ? 100_000_000L : 5_000_000_000L;
        if (!force && now - lastDraw < minGap && done.get() < total) return;
        if (!redraw && done.get() >= total) return; // in a log, the final line is close()'s alone
        lastDraw = now;
        String line = render(now);
        if (redraw) {
            out.print("\r" + line + "   ");
        } else if (!force) {
            out.println(line);
        }
        out.flush();
    }

    private String render(long now) {
        long d = Math.min(done.get(), total == 0 ? done.get() : total);
        double seconds = Math.max(1e-9, (now - startNanos) / 1e9);
        double rate = d / seconds;
        double frac = total == 0 ? 1 : (double) d / total;
        int filled = (int) Math.round(frac * WIDTH);
        StringBuilder sb = new StringBuilder();
        sb.append(label).append(" [").append("#".repeat(filled)).append(".".repeat(WIDTH - filled)).append("] ");
        sb.append(amount(d)).append('/').append(amount(total));
        sb.append("  ").append(bytes ? amount((long) rate) + "/s" : String.format("%.1f/s", rate));
        if (d > 0 && d < total) {
            long eta = (long) ((total - d) / Math.max(rate, 1e-9));
            sb.append("  ETA ").append(eta / 60).append("m").append(String.format("%02d", eta % 60)).append("s");
        }
        return sb.toString();
    }

    private String amount(long n) {
        return bytes ? formatBytes(n) : Long.toString(n);
    }

    public static String formatBytes(long n) {
        if (n < 1024) return n + " B";
        if (n < 1024 * 1024) return String.format("%.1f KB", n / 1024.0);
        if (n < 1024L * 1024 * 1024) return String.format("%.1f MB", n / (1024.0 * 1024));
        return String.format("%.2f GB", n / (1024.0 * 1024 * 1024));
    }

    @Override
    public synchronized void close() {
        if (finished) return;
        String line = render(System.nanoTime());
        finished = true;
        if (redraw) out.println("\r" + line + "   ");
        else out.println(line);
        out.flush();
    }
}
