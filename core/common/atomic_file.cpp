#include "core/common/atomic_file.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

#include "core/common/error.h"

namespace fs = std::filesystem;

namespace glq {
namespace {

std::atomic<unsigned> g_temp_counter{0};

fs::path temp_sibling(const fs::path& target) {
    auto name = target.filename().string();
    if (name.empty()) name = target.parent_path().filename().string();
    return target.parent_path() /
           ("." + name + ".tmp-" + std::to_string(::getpid()) + "-" +
            std::to_string(g_temp_counter.fetch_add(1)));
}

std::string errno_text(int err) { return std::strerror(err); }

// Why a write failed, in words a user can act on: a full disk (or quota, or
// file size limit) is the common case and deserves saying so plainly.
std::string write_problem(const char* what, int err) {
    const std::string text = std::string(what) + " failed: " + errno_text(err);
    if (err == ENOSPC || err == EDQUOT) return text + " (the disk is full)";
    if (err == EFBIG) return text + " (the file is larger than the size limit allows)";
    return text;
}

} // namespace

AtomicFile::AtomicFile(fs::path target) : target_(std::move(target)), temp_(temp_sibling(target_)) {
    file_ = std::fopen(temp_.c_str(), "wb");
    if (!file_) throw Error(target_.string(), "cannot create file: " + errno_text(errno));
}

AtomicFile::~AtomicFile() {
    if (file_) std::fclose(file_);
    if (!committed_) {
        std::error_code ec;
        fs::remove(temp_, ec);
    }
}

void AtomicFile::write(const void* data, std::size_t size) {
    if (size == 0) return;
    errno = 0;
    if (std::fwrite(data, 1, size, file_) != size) throw Error(target_.string(), write_problem("write", errno));
}

void AtomicFile::commit() {
    if (std::fflush(file_) != 0) throw Error(target_.string(), write_problem("write", errno));
    if (::fsync(::fileno(file_)) != 0) throw Error(target_.string(), write_problem("fsync", errno));
    if (std::fclose(file_) != 0) {
        file_ = nullptr;
        throw Error(target_.string(), write_problem("close", errno));
    }
    file_ = nullptr;
    std::error_code ec;
    fs::rename(temp_, target_, ec);
    if (ec) throw Error(target_.string(), "cannot rename temporary file into place: " + ec.message());
    committed_ = true;
}

void write_file_atomic(const fs::path& target, std::string_view contents) {
    AtomicFile f(target);
    f.write(contents);
    f.commit();
}

AtomicDirectory::AtomicDirectory(fs::path target) : target_(std::move(target)) {
    while (!target_.empty() && target_.filename().empty()) target_ = target_.parent_path();
    if (target_.has_parent_path() && !fs::exists(target_.parent_path()))
        throw Error(target_.string(), "parent folder does not exist");
    temp_ = temp_sibling(target_);
    std::error_code ec;
    fs::create_directory(temp_, ec);
    if (ec) throw Error(target_.string(), "cannot create output folder: " + ec.message());
}

AtomicDirectory::~AtomicDirectory() {
    if (!committed_) {
        std::error_code ec;
        fs::remove_all(temp_, ec);
    }
}

void AtomicDirectory::commit() {
    std::error_code ec;
    fs::path old;
    if (fs::exists(target_)) {
        // Move the old one aside first so the swap is never half done.
        old = temp_sibling(target_);
        fs::rename(target_, old, ec);
        if (ec) throw Error(target_.string(), "cannot replace existing folder: " + ec.message());
    }
    fs::rename(temp_, target_, ec);
    if (ec) {
        if (!old.empty()) fs::rename(old, target_, ec);
        throw Error(target_.string(), "cannot rename output folder into place: " + ec.message());
    }
    committed_ = true;
    if (!old.empty()) fs::remove_all(old, ec);
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path.string(), "cannot open file");
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw Error(path.string(), "read failed");
    return ss.str();
}

} // namespace glq
