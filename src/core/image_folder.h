// A folder of images in torchvision's ImageFolder layout: DIR/<class>/<file>
// with .png, .jpg or .jpeg files, classes in sorted order of their names.
#pragma once

#include <string>
#include <vector>

#include "core/datasets.h"

namespace dcomp {

// The class folders of `dir`, sorted. Throws DatasetError when `dir` is
// missing or holds no class folder.
std::vector<std::string> image_folder_classes(const std::string& dir);

// Every image of `dir`, in sorted order of class then file name, decoded to
// `channels` (1 or 3), resized and centre-cropped to size x size
// (resize_and_center_crop); label i is classes[i]. Throws DatasetError naming
// the file or folder: an unreadable image, an empty class folder, no images,
// a class folder that `classes` does not name.
ImageSet read_image_folder(const std::string& dir, const std::vector<std::string>& classes, int size, int channels);

}  // namespace dcomp
