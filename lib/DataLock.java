import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.OffsetDateTime;
import java.util.HashMap;
import java.util.Map;

/**
 * One writer of {@code data/} at a time. The lock is an operating-system lock on
 * {@code data/.kit.lock}, so it dies with its process: a run killed with kill -9 can never
 * leave the archive locked for ever. The file also names its holder (pid, command, start),
 * which is how a run that died while holding it is noticed and reported to the next one.
 *
 * <p>Reentrant within one JVM: the pipeline holds the lock and calls the steps in-process,
 * and each step takes the lock again as if it ran alone.
 */
public final class DataLock implements AutoCloseable {
    public static final String FILE = ".kit.lock";

    private static final Map<Path, DataLock> HELD = new HashMap<>();

    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;
    private final String previousOwner;
    private int holds = 1;

    private DataLock(Path file, FileChannel channel, FileLock lock, String previousOwner) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
        this.previousOwner = previousOwner;
    }

    /**
     * Takes the lock of {@code dataDir} for {@code purpose}. If another live process holds it,
     * fails with a KitException naming that process. If a dead process left its mark,
     * {@link #previousOwner()} says who, so the caller can report it.
     */
    public static DataLock acquire(Path dataDir, String purpose) {
        Path file = dataDir.toAbsolutePath().normalize().resolve(FILE);
        synchronized (HELD) {
            DataLock mine = HELD.get(file);
            if (mine != null) {
                mine.holds++;
                return mine;
            }
            try {
                Files.createDirectories(file.getParent());
                FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
                FileLock lock;
                try {
                    lock = ch.tryLock();
                } catch (IOException e) {
                    ch.close();
                    throw e;
                }
                if (lock == null) {
                    String owner = readOwner(ch);
                    ch.close();
                    throw new KitException("the archive folder " + dataDir + " is in use by another run"
                            + (owner.isEmpty() ? "" : " (" + owner + ")"),
                            "wait for that run to finish, then try again; two runs writing data/ at once could lose work");
                }
                String previous = readOwner(ch);
                String me = "pid " + ProcessHandle.current().pid() + ", " + purpose + ", started " + OffsetDateTime.now().withNano(0);
                ch.truncate(0);
                ch.write(ByteBuffer.wrap((me + "\n").getBytes(StandardCharsets.UTF_8)), 0);
                ch.force(true);
                DataLock l = new DataLock(file, ch, lock, previous.isEmpty() ? null : previous);
                HELD.put(file, l);
                return l;
            } catch (IOException e) {
                throw new KitException("cannot lock the archive folder " + dataDir + ": " + e.getMessage(),
                        "check that the folder exists and is writable", e);
            }
        }
    }

    private static String readOwner(FileChannel ch) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(1024);
        ch.read(buf, 0);
        return new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8).strip();
    }

    /**
     * Who held the lock before and died without releasing it (the kernel freed the lock but
     * the file still names them), or null when the lock was left cleanly.
     */
    public String previousOwner() {
        return previousOwner;
    }

    /** A warning for the user when a dead run's lock was found, else null. */
    public String staleLockReport() {
        if (previousOwner == null) return null;
        return "an earlier run (" + previousOwner + ") ended without releasing the archive lock; it is no longer running, "
                + "so this run takes over. If it was interrupted mid-way, its backups are in data/backups/.";
    }

    @Override
    public void close() {
        synchronized (HELD) {
            if (--holds > 0) return;
            HELD.remove(file);
            try {
                channel.truncate(0);  // a clean release leaves no owner behind
                channel.force(true);
                lock.release();
            } catch (IOException ignored) {
                // closing the channel below releases the lock in any case
            } finally {
                try {
                    channel.close();
                } catch (IOException ignored) {
                }
            }
        }
    }
}
