#include "core/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "core/image_decode.h"

namespace dcomp {
namespace {

namespace fs = std::filesystem;

bool is_image_file(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

std::vector<fs::path> sorted_entries(const fs::path& dir, bool directories) {
  std::vector<fs::path> out;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir))
    if (directories ? entry.is_directory() : entry.is_regular_file() && is_image_file(entry.path()))
      out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::vector<std::string> image_folder_classes(const std::string& dir) {
  if (!fs::is_directory(dir)) throw DatasetError(dir + ": directory not found");
  std::vector<std::string> classes;
  for (const fs::path& p : sorted_entries(dir, /*directories=*/true)) classes.push_back(p.filename().string());
  if (classes.empty()) throw DatasetError(dir + ": no class folders (expected DIR/<class>/<image>)");
  if (classes.size() > 256) throw DatasetError(dir + ": more than 256 classes");
  for (const std::string& name : classes)
    if (name.find(',') != std::string::npos) throw DatasetError(dir + "/" + name + ": class names may not contain ','");
  return classes;
}

ImageSet read_image_folder(const std::string& dir, const std::vector<std::string>& classes, int size, int channels) {
  const std::vector<std::string> found = image_folder_classes(dir);
  for (const std::string& name : found)
    if (std::find(classes.begin(), classes.end(), name) == classes.end())
      throw DatasetError(dir + "/" + name + ": a class that the training folder does not have");
  if (size < 1 || size > 4096) throw DatasetError(dir + ": image size " + std::to_string(size) + " out of range");
  ImageSet set;
  set.channels = channels;
  set.height = set.width = size;
  for (const std::string& name : found) {
    const uint8_t label = uint8_t(std::find(classes.begin(), classes.end(), name) - classes.begin());
    const std::vector<fs::path> files = sorted_entries(fs::path(dir) / name, /*directories=*/false);
    if (files.empty()) throw DatasetError((fs::path(dir) / name).string() + ": no .png or .jpg images in the class folder");
    for (const fs::path& file : files) {
      const std::vector<uint8_t> image = planes(resize_and_center_crop(decode_image(file.string(), channels), size));
      set.pixels.insert(set.pixels.end(), image.begin(), image.end());
      set.labels.push_back(label);
      ++set.count;
    }
  }
  return set;
}

}  // namespace dcomp
