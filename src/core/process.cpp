#include "core/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

namespace dcomp {

int run_program(const std::vector<std::string>& arguments, int timeout_seconds, std::string* output) {
  std::vector<char*> argv;
  for (const std::string& a : arguments) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int out[2] = {-1, -1};  // the child's standard output, when captured
  if (output && ::pipe2(out, O_CLOEXEC) != 0) return -1;
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  if (output)
    posix_spawn_file_actions_adddup2(&files, out[1], STDOUT_FILENO);  // dup2 clears O_CLOEXEC on the copy
  else
    posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&files, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, argv[0], &files, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  if (output) ::close(out[1]);
  // Reads until the child closes its output (or at once, uncaptured), then reaps it.
  bool open = output != nullptr && spawned == 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  int result = -1;
  if (spawned == 0) {
    for (int status = 0;;) {
      if (open) {
        pollfd ready{out[0], POLLIN, 0};
        if (::poll(&ready, 1, 50) > 0) {
          char buf[4096];
          const ssize_t n = ::read(out[0], buf, sizeof buf);
          if (n > 0) output->append(buf, size_t(n));
          else open = false;  // end of output (or an error reading it)
        }
      } else {
        ::poll(nullptr, 0, 50);
      }
      if (!open) {
        const pid_t done = waitpid(pid, &status, WNOHANG);
        if (done == pid) { result = WIFEXITED(status) ? WEXITSTATUS(status) : -1; break; }
        if (done < 0) break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        break;
      }
    }
  }
  if (output) ::close(out[0]);
  return result;
}

}  // namespace dcomp
