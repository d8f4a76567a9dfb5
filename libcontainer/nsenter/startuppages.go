package nsenter

/*
void skiff_drop_startup_pages(void);
void skiff_page_profile_save(void);
*/
import "C"

// DropStartupPages takes out of skiff's mappings the pages of its text
// and function tables that the Go runtime's start-up and the packages'
// initialisation touched, in the commands whose binary is mapped a page
// at a time (faultaround.c); what the command needs of them again comes
// back a page at a time. Anywhere else it does nothing. Call it as the
// command's action starts.
func DropStartupPages() { C.skiff_drop_startup_pages() }

// SavePageProfile saves, in the first run of a command by a binary,
// which pages of the binary the command touched, so that later runs map
// them in one go (pageprofile.c). Call it as a command that succeeded
// ends.
func SavePageProfile() { C.skiff_page_profile_save() }
