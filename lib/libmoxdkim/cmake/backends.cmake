# mox_dkim_backend_library(target backend): libmoxdkim's sources built into
# a static library with the given crypto backend (mbedtls or openssl),
# for the tests and benchmarks that cover both backends in one build.
function(mox_dkim_backend_library target backend)
  set(src ${MOX_DKIM_COMMON_SOURCES})
  if(NOT src)
    get_directory_property(src DIRECTORY ${PROJECT_SOURCE_DIR}/lib/libmoxdkim
      DEFINITION MOX_DKIM_COMMON_SOURCES)
  endif()
  add_library(${target} STATIC ${src}
    ${PROJECT_SOURCE_DIR}/lib/libmoxdkim/src/crypto_${backend}.c)
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR}/lib/libmoxdkim/include
    PRIVATE ${PROJECT_SOURCE_DIR}/lib/libmoxdkim/src)
  target_compile_definitions(${target} PRIVATE MOX_BUILDING_LIBRARY)
  target_link_libraries(${target} PUBLIC moxmessage_static moxdns_static moxcore_static
    PkgConfig::mox_libsodium)
  if(backend STREQUAL "openssl")
    target_link_libraries(${target} PUBLIC PkgConfig::mox_libcrypto)
  else()
    target_link_libraries(${target} PUBLIC ${MOX_MBEDCRYPTO})
  endif()
endfunction()
