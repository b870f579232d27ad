# check-layers.cmake: fail the build when a layer includes a header of a layer to its
# right (../shared/STYLE.md section 1). Each layer is a directory; it may include its
# own headers and those of the directories it USES, nothing else.
#
#   cmake -DLAYER=name -DDIR=dir -DUSES="dir;dir" -DALL="dir;dir;..." -DSTAMP=file
#         -P check-layers.cmake
#
# The compiler only half enforces this: a layer's include path holds the directories on
# its left, but "#include" with quotes also searches the including file's own directory,
# so "cli/cli.h" from analyzer/ or "../storage/db.h" from anywhere would still build.
# This script resolves every include of every file of DIR as the compiler would and
# fails, naming the file, the line and the layer, when it lands in a directory the
# layer does not use. Includes found in no project directory (system headers) pass.
cmake_minimum_required(VERSION 3.18)

foreach(v LAYER DIR ALL)
    if(NOT DEFINED ${v})
        message(FATAL_ERROR "check-layers.cmake: -D${v}=... is required")
    endif()
endforeach()

get_filename_component(dir_real "${DIR}" REALPATH)
set(allowed "${dir_real}")
foreach(d IN LISTS USES)
    get_filename_component(r "${d}" REALPATH)
    list(APPEND allowed "${r}")
endforeach()
set(all_real "")
foreach(d IN LISTS ALL)
    get_filename_component(r "${d}" REALPATH)
    list(APPEND all_real "${r}")
endforeach()

# The first of dirs that holds inc, as a real path, into out ("" when none does).
function(find_header out inc)
    foreach(d IN LISTS ARGN)
        if(EXISTS "${d}/${inc}")
            get_filename_component(r "${d}/${inc}" REALPATH)
            set(${out} "${r}" PARENT_SCOPE)
            return()
        endif()
    endforeach()
    set(${out} "" PARENT_SCOPE)
endfunction()

file(GLOB files "${DIR}/*.c" "${DIR}/*.h")
set(bad "")
foreach(f IN LISTS files)
    file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]")
    foreach(line IN LISTS lines)
        if(NOT line MATCHES "^[ \t]*#[ \t]*include[ \t]*([\"<])([^\">]+)[\">]")
            continue()
        endif()
        set(kind "${CMAKE_MATCH_1}")
        set(inc "${CMAKE_MATCH_2}")
        # where the compiler would find it: the file's own directory first (quotes
        # only), then the include path, which CMake limits to the allowed layers
        set(found "")
        if(kind STREQUAL "\"")
            find_header(found "${inc}" "${DIR}")
        endif()
        if(NOT found)
            find_header(found "${inc}" ${allowed})
        endif()
        if(NOT found) # not reachable legally: is it a header of another layer?
            find_header(found "${inc}" ${all_real})
        endif()
        if(NOT found)
            continue()
        endif()
        get_filename_component(found_dir "${found}" DIRECTORY)
        if(NOT found_dir IN_LIST allowed AND found_dir IN_LIST all_real)
            list(APPEND bad "${f}: includes ${inc} (${found_dir}), which layer ${LAYER} may not use")
        endif()
    endforeach()
endforeach()

if(bad)
    list(JOIN bad "\n" text)
    message(FATAL_ERROR "wrong-direction include:\n${text}")
endif()
if(DEFINED STAMP)
    file(WRITE "${STAMP}" "ok\n")
endif()
