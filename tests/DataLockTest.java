import static org.junit.jupiter.api.Assertions.*;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The one-writer lock on data/, with a real second process that holds it and is then killed -9. */
class DataLockTest {
    static Process holdLockInAnotherJvm(Path dir) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), "LockHolder", dir.toString())
                .redirectErrorStream(true).start();
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()));
        assertEquals("locked", r.readLine(), "the helper process should take the lock");
        return p;
    }

    @Test
    void aLiveHolderIsNamedAndTheLockIsRefused(@TempDir Path dir) throws Exception {
        Process holder = holdLockInAnotherJvm(dir);
        try {
            KitException e = assertThrows(KitException.class, () -> DataLock.acquire(dir, "test"));
            assertTrue(e.getMessage().contains("in use by another run") && e.getMessage().contains("pid " + holder.pid()), e.getMessage());
            assertTrue(e.getMessage().contains("LockHolder test process"), e.getMessage());
        } finally {
            holder.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aLockLeftByAKilledProcessIsDetectedAndReported(@TempDir Path dir) throws Exception {
        Process holder = holdLockInAnotherJvm(dir);
        long pid = holder.pid();
        holder.destroyForcibly().waitFor(10, TimeUnit.SECONDS); // SIGKILL: no chance to clean up
        assertTrue(Files.readString(dir.resolve(DataLock.FILE)).contains("pid " + pid), "the dead holder's mark is still there");
        try (DataLock lock = DataLock.acquire(dir, "test")) {
            assertNotNull(lock.staleLockReport());
            assertTrue(lock.staleLockReport().contains("pid " + pid) && lock.staleLockReport().contains("no longer running"), lock.staleLockReport());
        }
        // released cleanly this time: the next run sees no stale mark
        try (DataLock lock = DataLock.acquire(dir, "test")) {
            assertNull(lock.staleLockReport());
        }
    }

    @Test
    void reentrantWithinOneProcess(@TempDir Path dir) {
        try (DataLock outer = DataLock.acquire(dir, "pipeline")) {
            try (DataLock inner = DataLock.acquire(dir, "a step called in-process")) {
                assertSame(outer, inner);
            }
            assertTrue(Files.exists(dir.resolve(DataLock.FILE)));
        }
    }
}
